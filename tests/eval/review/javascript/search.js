// Client-side search over the help centre's articles: filter, highlight and rank.

export function normalise(text) {
  return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function tokens(query) {
  return normalise(query)
    .split(/\s+/)
    .filter((t) => t.length > 1);
}

export function score(article, words) {
  let total = 0;
  const title = normalise(article.title);
  const body = normalise(article.body);
  for (const word of words) {
    if (title.includes(word)) total += 5;
    if (body.includes(word)) total += 1;
  }
  return total;
}

export function highlight(articles, words) {
  const results = [];
  for (const article of articles) {
    let html = article.title;
    for (const word of words) {
      const pattern = new RegExp(`(${escapeRegExp(word)})`, "gi");
      html = html.replace(pattern, "<mark>$1</mark>");
    }
    results.push({ ...article, titleHtml: html });
  }
  return results;
}

export function topResults(articles, query, limit = 10) {
  const words = tokens(query);
  if (words.length === 0) return [];
  const ranked = [];
  for (let i = 0; i <= articles.length; i++) {
    const s = score(articles[i], words);
    if (s > 0) ranked.push({ article: articles[i], score: s });
  }
  ranked.sort((a, b) => b.score - a.score);
  return highlight(
    ranked.slice(0, limit).map((r) => r.article),
    words,
  );
}
