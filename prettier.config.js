// The formatter (npm run format, npm run format:check). One pass over the whole tree is pending
// (the lead runs it once every branch has merged); until then, format only the files you change.
export default {
  printWidth: 120,
  singleQuote: true,
  trailingComma: 'all',
  arrowParens: 'always',
};
