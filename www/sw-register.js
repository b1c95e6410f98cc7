// Registers sw.js, the service worker that caches the page for offline use.
// It is a file rather than an inline script so that a Content-Security-Policy
// without 'unsafe-inline' allows it.
//
// The build ID in the worker's URL is a hash of the asset names that Trunk
// hashed for this build, so a new build installs a new worker and cache.

(function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) {
    return;
  }
  const names = [...document.querySelectorAll('link[href], script[src]')]
    .map((element) => element.getAttribute('href') ?? element.getAttribute('src'))
    .filter((name) => /-[0-9a-f]{16}/.test(name))
    .sort()
    .join('|');
  // FNV-1a, enough to tell builds apart.
  let hash = 0x811c9dc5;
  for (let i = 0; i < names.length; i += 1) {
    hash = Math.imul(hash ^ names.charCodeAt(i), 0x01000193) >>> 0;
  }
  const build = hash.toString(16).padStart(8, '0');
  navigator.serviceWorker.register(`./sw.js?build=${build}`).catch((error) => {
    // The page works without offline support, so this is only a warning.
    console.warn(`gatelab: the offline service worker failed to register: ${error}`);
  });
})();
