// The formatter: npm run format writes, npm run lint checks (CI runs it). The whole tree was
// formatted once; Markdown and JSON are left as written (.prettierignore).
export default {
  printWidth: 120,
  singleQuote: true,
  trailingComma: 'all',
  arrowParens: 'always',
};
