// Requests to our own server (same origin only): the bearer token of the session, the
// page's language for problem+json messages, and errors as ApiProblem.

import { currentLang, t } from "./i18n.js";

const TOKEN = "sipks.token";

/** An RFC 9457 problem answered by the server (or a network failure, status 0). */
export class ApiProblem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
  /** The body field the server names (`properties.severity`), if any. */
  get field() {
    return this.body.field;
  }
}

/** The session's token (kept for the tab only). */
export const token = () => sessionStorage.getItem(TOKEN);
export const setToken = (value) =>
  value ? sessionStorage.setItem(TOKEN, value) : sessionStorage.removeItem(TOKEN);

/** Headers every request carries. */
export function headers(extra = {}) {
  const h = { "Accept-Language": currentLang(), ...extra };
  const tok = token();
  if (tok) h.Authorization = `Bearer ${tok}`;
  return h;
}

/**
 * Sends a request; resolves to {status, body, etag} on 2xx, rejects with ApiProblem
 * otherwise. `json` is sent as the body.
 */
export async function request(path, { method = "GET", json, headers: extra = {}, contentType } = {}) {
  const init = { method, headers: headers(extra) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = contentType || "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiProblem(0, { detail: t("error.network") });
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : response.status === 204 ? null : await response.text();
  if (!response.ok) throw new ApiProblem(response.status, typeof body === "object" ? body : { detail: body });
  return { status: response.status, body, etag: response.headers.get("etag") };
}

/** GET a JSON document. */
export const getJson = async (path) => (await request(path)).body;
