kind=rename
//- text
type User = { name: string; email: string; active: boolean };

export const activeEmails = (users: User[]): string[] =>
  users
    .filter((user) => user.active)
    .map((user) => user.email.toLowerCase());

export function byDomain(users: User[], domain: string): User[] {
  return users.filter((u) => u.email.endsWith("@" + domain));
}
//- edit
3: users -> members
//- expect
4: users -> members
