// Run by npm before install, start and test (see package.json): the project's sources are
// TypeScript that Node.js runs directly, which needs Node.js 22.18 or later. On an older Node.js
// every script would fail with ERR_UNKNOWN_FILE_EXTENSION ".ts"; this says what to do instead.
// CommonJS without newer syntax, so that old Node.js versions can parse it.
'use strict';

const need = [22, 18];
const [major, minor] = process.versions.node.split('.').map(Number);

if (major < need[0] || (major === need[0] && minor < need[1])) {
  process.stderr.write(
    [
      '',
      `XTTS voice studio needs Node.js ${need.join('.')} or later (24 LTS recommended);`,
      `this is Node.js ${process.version} (${process.execPath}).`,
      'Node.js 22.18 and later run the TypeScript sources directly; older versions cannot.',
      '',
      'Get Node.js 24, then run the same npm command again:',
      '  with nvm:         nvm install 24 && nvm use 24',
      '  with npm alone:   npm install --prefix ~/.node24 node@24',
      '                    export PATH=~/.node24/node_modules/node/bin:$PATH',
      '  or an installer:  https://nodejs.org/en/download',
      '',
      '',
    ].join('\n'),
  );
  process.exit(1);
}
