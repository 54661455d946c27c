// Calls to the server's JSON API. Every number the page shows comes from these answers.

// The message of a refused request: the server's `error`, or FastAPI's list of bad fields.
export function errorMessage(status, statusText, data) {
  let message = data && data.error;
  if (!message && data && Array.isArray(data.detail)) {
    message = data.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return message || `${status} ${statusText}`;
}

// GET `path`, or POST `body` as JSON; the answer's JSON, or an Error with the server's message.
export async function api(path, body, fetcher = fetch) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetcher(path, options);
  const text = await response.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
  if (!response.ok) throw new Error(errorMessage(response.status, response.statusText, data));
  return data;
}

// A download from /api/export: the file's bytes and the name the server gives it.
export async function exportFile(problem, format, fetcher = fetch) {
  const response = await fetcher("/api/export", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ problem, format }),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.error || response.statusText);
  }
  const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
  return { blob: await response.blob(), name: name ? name[1] : `handgrad.${format}` };
}
