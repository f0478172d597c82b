/**
 * Entry of the private reports' chunk: loaded only by pages whose site set `collectUrl`. It
 * summarises an ended period from the log, randomizes it once, and posts it on page hide.
 */
export { startReports } from '../report/device';
export type { ReportsHost } from '../report/device';
