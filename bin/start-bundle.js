// bin/hutch and bin/hutch-fs: run an entry of the bundle (npm run build writes dist/), or, with
// no build or a Node.js too old for it, say so in one line and exit 125 rather than with a stack
// trace. ES5 on purpose: this file must parse on any Node.js (Debian 11 ships 12, Debian 12 18).
'use strict';

var NODE_MAJOR_NEEDED = 20;

/** The message for a Node.js older than hutch needs, or null when this one will do. */
function nodeTooOld(versions) {
  var major = parseInt(String(versions.node).split('.')[0], 10);
  if (major >= NODE_MAJOR_NEEDED) return null;
  return (
    'hutch: cannot start: Node.js ' +
    versions.node +
    ' is too old: hutch needs Node.js ' +
    NODE_MAJOR_NEEDED +
    ' or newer\n' +
    'hint: install Node.js ' +
    NODE_MAJOR_NEEDED +
    "+ (Debian 12 ships 18): NodeSource's packages (deb.nodesource.com), nvm, " +
    'or `npm install -g node@' +
    NODE_MAJOR_NEEDED +
    '`; then check `node --version` (README.md, "Prerequisites")\n'
  );
}

exports.nodeTooOld = nodeTooOld;

exports.startBundle = function (name) {
  var old = nodeTooOld(process.versions);
  if (old !== null) {
    process.stderr.write(old);
    process.exitCode = 125;
    return;
  }
  try {
    require('../dist/src/cli/bundle-loader.cjs').runBundle(name);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND' || String(error.message).split('\n')[0].indexOf('bundle-loader.cjs') < 0)
      throw error;
    process.stderr.write('hutch: cannot start: dist/ is not built\nhint: build hutch first: npm run build\n');
    process.exitCode = 125;
  }
};

/**
 * The bundle entry of a `hutch` command line: `hutch sandbox ...` has one of its own (no
 * clipanion, no other command: its start is measured against bubblewrap's); so has `hutch
 * runtime ...` (engines start one per step of a container; it hands help to the CLI itself); the
 * sandbox's help, and every other command, the CLI's.
 */
exports.cliEntry = function (argv) {
  if (argv[2] === 'runtime') return 'runtime';
  var first = argv[3];
  if (argv[2] !== 'sandbox' || first === undefined || first === '--help' || first === '-h') return 'cli';
  return 'sandbox';
};
