export { connectRepository } from './connect-repository.js';
