// Model packages: the PyTorch side (trainer/xtts, Python) driven from TypeScript.
export { importModel, MODEL_FILES, type PullOptions, pull, pythonBinary, runPython } from './model-package/index.ts';
