// Small behaviours of the site's pages. No inline scripts: the Content-Security-Policy
// allows scripts from this site only.
document.addEventListener("DOMContentLoaded", () => {
  // htmx sends the CSRF token that Django set in its cookie.
  document.body.addEventListener("htmx:configRequest", (event) => {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (match) event.detail.headers["X-CSRFToken"] = decodeURIComponent(match[1]);
  });
});
