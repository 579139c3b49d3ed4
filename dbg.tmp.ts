import { readFileSync } from 'node:fs';
import { decisions } from './src/coverage/direction';
import { sourceReader } from './src/coverage/lines';
const d = JSON.parse(readFileSync('coverage/bpf-coverage.json', 'utf8'));
const layouts = new Map(Object.entries(d.layouts).filter(([, l]: any) => l.program === (process.argv[4] ?? 'xdp_connect6'))) as any;
const r = decisions(process.argv[2], Number(process.argv[3]), layouts, process.cwd(), sourceReader(process.cwd()));
console.log(JSON.stringify(r, null, 0).slice(0, 3000));
