kind=rename
//- text
const fs = require("fs");

function readJson(file) {
  const text = fs.readFileSync(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: ${err.message} in ${text.slice(0, 40)}`);
  }
}

function writeJson(file, value) {
  const text = JSON.stringify(value, null, 2);
  fs.writeFileSync(file, text);
}

module.exports = { readJson, writeJson };
//- edit
4: text -> source
//- expect
6: text -> source
8: text -> source
