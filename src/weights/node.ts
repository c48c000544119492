/** The Node built-in loaders live in `src/util/node.ts`; re-exported for the weights modules. */
export { nodeFs, nodePath } from '../util/node';
