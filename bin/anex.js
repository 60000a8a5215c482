#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript run by Node 24's built-in type stripping,
// so a clone needs no build step (`npm ci` then `npx anex ...`).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `anex needs Node.js 24 or newer (found ${process.versions.node}).\n` +
      'Run it through npm (`npx anex ...` or `npm run anex -- ...`), which uses the Node 24 from devDependencies.\n',
  );
  process.exit(1);
}
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
