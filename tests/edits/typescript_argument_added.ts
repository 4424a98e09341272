kind=arguments
//- text
type Listener = (event: string, payload?: unknown) => void;

const listeners: Listener[] = [];

function emit(event: string, payload?: unknown) {
  for (const listener of listeners) listener(event, payload);
}

export function save(doc: { id: string; body: string }) {
  localStorage.setItem(doc.id, doc.body);
  emit("change");
}

export function remove(id: string) {
  localStorage.removeItem(id);
  emit("change");
}

export function clear() {
  localStorage.clear();
  emit("reset");
}

export function touch(doc: { id: string; body: string }) {
  doc.body += "";
  emit("change");
}
//- edit
11: emit("change") -> emit("change", doc.id)
//- expect
16: emit("change") -> emit("change", id)
26: emit("change") -> emit("change", doc.id)
