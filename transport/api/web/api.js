// Calls to the chat API with the tab's bearer token (never in a URL).

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

const TOKEN_KEY = "chat.token";
const USER_KEY = "chat.user";

// The token lives for the tab's life (sessionStorage), never in a URL or a cookie.
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get user() { return sessionStorage.getItem(USER_KEY); },
  save(token, user) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, user);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

export async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const error = body && body.error ? body.error : {};
  const { code = "http_" + response.status, message = response.statusText || "request failed", ...extra } = error;
  return new ApiError(response.status, code, message, extra);
}

// One call: JSON in and out. Raises ApiError for an error answer, TypeError when offline.
export async function call(method, path, body, { headers = {}, signal } = {}) {
  const init = { method, headers: authHeaders({ Accept: "application/json", ...headers }), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

export function encode(part) {
  return encodeURIComponent(part);
}

let keyCounter = 0;
export function idempotencyKey() {
  keyCounter += 1;
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `web-${random[0].toString(36)}${random[1].toString(36)}-${keyCounter}`;
}

// An upload with progress (fetch cannot report it): resolves to the JSON answer.
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    const token = session.token;
    if (token) request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    request.setRequestHeader("Idempotency-Key", idempotencyKey());
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve(body);
        return;
      }
      const error = body && body.error ? body.error : {};
      reject(new ApiError(request.status, error.code || "http_" + request.status, error.message || "upload failed"));
    };
    request.onerror = () => reject(new TypeError("network error during the upload"));
    request.send(file);
  });
}

// A download: the bytes as a Blob (the token goes in a header, so no plain link).
export async function download(path) {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) throw await errorOf(response);
  return response.blob();
}
