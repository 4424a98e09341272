kind=rename
//- text
export function buildRequest(url: string, token: string) {
  const headers = { token: token, accept: "application/json" };
  const body = JSON.stringify({ token });
  return new Request(url, { method: "POST", headers, body });
}
//- edit
1: token -> apiKey
//- expect
2.2: token -> apiKey
3: { token } -> { token: apiKey }
