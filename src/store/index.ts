export { createStore, type Store, type StoreOptions, type ChangeKind } from './store';
export { DB_NAME, DB_VERSION } from './schema';
