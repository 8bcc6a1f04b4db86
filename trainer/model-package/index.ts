export { importModel } from './import.ts';
export { MODEL_FILES, type PullOptions, pull } from './pull.ts';
export { pythonBinary, runPython } from './python.ts';
