// The engine SDK: everything a secret engine or auth method may import.
export * from './errors.js';
export * from './json.js';
export * from './storage.js';
export * from './duration.js';
export * from './fields.js';
export * from './engine.js';
export * from './path.js';
