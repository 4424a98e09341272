kind=rename
//- text
export function makeUser(first: string, last: string) {
  const name = `${first} ${last}`;
  const slug = name.toLowerCase().replace(/\s+/g, "-");
  return { name, slug };
}
//- edit
2: name -> fullName
//- expect
3: name -> fullName
4: { name, -> { name: fullName,
