import { countersLine } from './counters';
countersLine('redis://127.0.0.1:6379', 'kp:h10bench:c:').then(console.log);
