#!/usr/bin/env node
import { launch } from './launch.js';
await launch('sledge-loader', new URL('../loader/cli/sledge-loader.ts', import.meta.url).href, import.meta.url);
