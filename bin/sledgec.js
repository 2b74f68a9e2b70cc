#!/usr/bin/env node
import { launch } from './launch.js';
await launch('sledgec', new URL('../compiler/cli/sledgec.ts', import.meta.url).href, import.meta.url);
