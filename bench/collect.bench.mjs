// The collector of private attention reports: how close its estimates come to a simulated truth
// (1,000 and 10,000 devices at ε = 1 and ε = 4), and how many reports per second it accepts and
// stores (one instance on PGlite; one and two instances over PostgreSQL).
import { execFileSync } from 'node:child_process';

const run = (file) => execFileSync(process.execPath, ['--import', 'tsx', new URL(file, import.meta.url).pathname], { stdio: 'inherit' });
run('./collect/error.ts');
console.log();
run('./collect/throughput.ts');
