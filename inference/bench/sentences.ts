/** English sentences of 60 to 150 characters, what the GPU benchmarks speak: bench:gpu's request i speaks sentence i mod their number, native.ts --sentences prompts from them. */
export const SENTENCES = [
  'The early train was late again, so we walked along the river and watched the fog lift.',
  'She kept every letter her grandmother wrote, tied with a blue ribbon in a wooden box.',
  'Please remember to switch off the lights and lock the back door before you leave tonight.',
  'A quiet library on a rainy afternoon is one of the best places to finish a long book.',
  'The engineers tested the bridge for three weeks before they opened it to heavy trucks.',
  'When the music started, the whole room went silent and even the children stopped talking.',
  'He planted tomatoes, beans and sunflowers, and by August the garden was taller than the fence.',
  'Our flight to Lisbon leaves at seven in the morning, so we should pack our bags this evening.',
  'The museum added a new wing for modern art, with large windows that look out over the harbour.',
  'If you follow the path past the old mill, you will reach a small lake where herons fish at dawn.',
  'Most of the volunteers arrived early, carrying boxes of food, blankets and warm winter coats.',
  'The recipe calls for two cups of flour, a pinch of salt, three eggs and a little melted butter.',
  'After the storm, the neighbours gathered in the street to clear the branches and check on each other.',
  'The committee will publish its report next month, once every member has read the final draft.',
  'Learning a new language takes patience, but every small conversation makes the next one easier.',
  'The lighthouse keeper climbed the narrow stairs each night to make sure the lamp was burning.',
];
