// Service worker of the gatelab page: keeps the app shell in the Cache API so
// that the page starts and trains offline after its first visit.
//
// sw-register.js registers this file as `sw.js?build=ID`, where ID is derived
// from the hashed asset names of the current build. A new build therefore
// has a new script URL, which installs a new worker with its own cache. That
// worker deletes the older caches when it activates. The scope is the folder of this
// file, so the page works from a sub-path such as /gatelab/.

const BUILD = new URL(self.location.href).searchParams.get('build') || 'unversioned';
const CACHE_PREFIX = 'gatelab-shell-';
const CACHE_NAME = CACHE_PREFIX + BUILD;

/** Files that index.html does not name: the CPU engine's Web Worker. */
const EXTRA_FILES = ['gatelab-worker_loader.js', 'gatelab-worker.js', 'gatelab-worker_bg.wasm'];

/** Trunk's content hash in a file name, for example `style-0123456789abcdef.css`. */
const HASHED_NAME = /-[0-9a-f]{16}(_bg)?\.[a-z]+$/;

/** Returns the same-origin URLs that index.html loads, resolved against `base`. */
function shellUrls(html, base) {
  const urls = new Set([base.href]);
  for (const match of html.matchAll(/(?:href|src)=["']([^"']+)["']|from\s+["']([^"']+)["']/g)) {
    const url = new URL(match[1] ?? match[2], base);
    if (url.origin === self.location.origin) {
      url.hash = '';
      urls.add(url.href);
    }
  }
  for (const file of EXTRA_FILES) {
    urls.add(new URL(file, base).href);
  }
  return [...urls];
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const base = new URL('./', self.location.href);
    const response = await fetch(base, { cache: 'reload' });
    if (!response.ok) {
      throw new Error(`fetching ${base} for the offline cache failed with HTTP ${response.status}`);
    }
    const html = await response.clone().text();
    const cache = await caches.open(CACHE_NAME);
    await cache.put(base, response);
    const others = shellUrls(html, base).filter((url) => url !== base.href);
    await cache.addAll(others.map((url) => new Request(url, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(
      names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME).map((name) => caches.delete(name)),
    );
    await self.clients.claim();
  })());
});

/** Responds from the cache, and fetches and stores what it lacks. */
async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: CACHE_NAME });
  if (cached) {
    return cached;
  }
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(CACHE_NAME);
    await cache.put(request, response.clone());
  }
  return response;
}

/** Fetches and stores a fresh copy, and falls back to the cache offline. */
async function networkFirst(request, cacheKey) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(CACHE_NAME);
      await cache.put(cacheKey, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await caches.match(cacheKey, { cacheName: CACHE_NAME });
    if (cached) {
      return cached;
    }
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Cross-origin requests and anything but GET go to the network untouched.
  if (request.method !== 'GET' || url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === 'navigate') {
    // Every address of the page, whatever its query, is the same index.html.
    event.respondWith(networkFirst(request, new URL('./', self.location.href).href));
  } else if (HASHED_NAME.test(url.pathname)) {
    // A hashed name never changes its content.
    event.respondWith(cacheFirst(request));
  } else {
    url.search = '';
    event.respondWith(networkFirst(request, url.href));
  }
});
