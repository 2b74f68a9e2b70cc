#!/usr/bin/env node
import { launch } from './launch.js';
// Optimized code from the first call (DESIGN §3 "Tiering"): no baseline tier, compile eagerly.
await launch('sledge-loader', import.meta.url, ['--no-liftoff', '--no-wasm-lazy-compilation']);
