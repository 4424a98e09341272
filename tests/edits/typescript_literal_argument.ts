kind=literal
//- text
async function retry<T>(fn: () => Promise<T>, attempts: number): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export const fetchUser = (id: string) => retry(() => fetch(`/api/users/${id}`), 3);
export const fetchTeam = (id: string) => retry(() => fetch(`/api/teams/${id}`), 3);
export const fetchAudit = (id: string) => retry(() => fetch(`/api/audit/${id}`), 1);
//- edit
13: 3) -> 5)
//- expect
14: 3) -> 5)
