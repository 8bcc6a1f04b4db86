"""The XTTS-v2 inference model in PyTorch: conditioning encoder and perceiver, GPT, HiFi-GAN with the
speaker encoder, and the DVAE, with Coqui's state-dict names; the model folder reader (checkpoint.py)
and the sampler that the decode graph runs (sampler.py). Imports nothing else from xtts."""
