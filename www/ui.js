// Small page helpers: element lookup, number formats, the file log and the error box, and
// `expose`, the one way the page states what it shows as data attributes (the browser tests and
// assistive tools read those; drawing code never writes them itself).

import { message } from './protocol.js';

export { message };

export const $ = (id) => document.getElementById(id);

/** The page's query string (?model=, ?backend=, ?colormap=). */
export const params = new URLSearchParams(location.search);

export function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

export function formatScore(value) {
  return Number.isFinite(value) ? value.toPrecision(4) : String(value);
}

/** Sets `facts` (name → value) as data attributes of `element`, each as a string. */
export function expose(element, facts) {
  for (const [name, value] of Object.entries(facts)) element.dataset[name] = String(value);
}

export function setStatus(text) {
  $('status').textContent = text;
}

export function showError(text) {
  $('error').textContent = text;
  $('error').hidden = false;
}

export function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

export async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`${what}: cannot fetch ${url} (${message(error)})`);
  }
  if (!response.ok) throw new Error(`${what}: ${url} answered HTTP ${response.status}`);
  return response;
}

/** One line per file in the log: what became of it (the newest 40 are kept). */
export function logFile(name, text, kind) {
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = `${name}: ${text}`;
  $('file-log').prepend(li);
  while ($('file-log').childElementCount > 40) $('file-log').lastChild.remove();
}

/** Says why `name` was not scored: in the error box and in the file log. */
export function refuse(name, text) {
  showError(text.includes(name) ? text : `${name}: ${text}`);
  logFile(name, `not scored: ${text}`, 'refused');
}

/** Counts a finished attempt (scored or refused) on the page's body. */
export function attemptDone() {
  expose(document.body, { attempts: Number(document.body.dataset.attempts ?? 0) + 1 });
}
