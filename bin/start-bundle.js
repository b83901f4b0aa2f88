// bin/hutch and bin/hutch-fs: run an entry of the bundle (npm run build writes dist/), or, with
// no build, say so in one line and exit 125 rather than with a stack trace.
exports.startBundle = (name) => {
  try {
    require('../dist/src/cli/bundle-loader.cjs').runBundle(name);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND' || !String(error.message).split('\n')[0].includes('bundle-loader.cjs')) throw error;
    process.stderr.write('hutch: cannot start: dist/ is not built\nhint: build hutch first: npm run build\n');
    process.exitCode = 125;
  }
};
