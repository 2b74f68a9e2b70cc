// sledgec's version, recorded in every manifest.
import { readFileSync } from 'node:fs';

export const SLEDGEC_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
