export { createStore, type Store, type StoreOptions } from './store';
export { DB_NAME, DB_VERSION } from './schema';
