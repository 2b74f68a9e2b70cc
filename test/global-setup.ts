// Builds the CLI bundle (dist/) once before any test spawns a CLI, so parallel test files never
// race to rebuild it.
// @ts-expect-error plain JavaScript module without types
import { ensureBundle } from '../bin/launch.js';

export default async function setup(): Promise<void> {
  await ensureBundle();
}
