export { importModel } from './import.ts';
export { MODEL_FILES, type PullOptions, pull } from './pull.ts';
export { projectPythonReady, pythonBinary, runPython } from './python.ts';
