#!/usr/bin/env node
import { launch } from './launch.js';
await launch('sledgec', import.meta.url);
