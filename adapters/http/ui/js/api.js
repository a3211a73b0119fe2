// The REST API as the page calls it: the bearer token (kept in this tab only), the organization for admin tokens.
const TOKEN_KEY = "ocpplab.token";
const ORG_KEY = "ocpplab.org";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) { value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY); },
  get org() { return sessionStorage.getItem(ORG_KEY); },
  set org(value) { value ? sessionStorage.setItem(ORG_KEY, value) : sessionStorage.removeItem(ORG_KEY); },
};

/** The token's claims, read without verifying (the server verifies): only to know whether it is an admin's. */
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return {};
  }
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

/** A request to this gateway (same origin): JSON in, JSON out, errors as ApiError with the server's detail. */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${session.token}` };
  if (session.org) headers["X-Organization-Id"] = session.org;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}
