// Cross-module tests live here (end-to-end, browser, load, fault); helpers under helpers/.
export { testApp } from './helpers/app.ts';
export { freshDatabase, openTestDb, type TestDb } from './helpers/db.ts';
