export { EXIT, runCli } from './cli.js';
