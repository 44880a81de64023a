// The chain view, live: the server sends the sites fragment (rendered and escaped by the
// server's templates) as a server-sent event whenever the view changes; it replaces the old.
(() => {
  "use strict";
  const first = document.getElementById("chain");
  if (!first || !window.EventSource) return;
  let frames = 0;

  function lost() {
    const status = document.getElementById("central-status");
    if (!status) return;
    status.classList.remove("live");
    status.classList.add("down");
    status.textContent = "connection to the chain view lost: reconnecting…";
  }

  const source = new EventSource(first.dataset.feed);
  source.addEventListener("sites", (event) => {
    const template = document.createElement("template");
    template.innerHTML = event.data;
    const fresh = template.content.getElementById("chain");
    const current = document.getElementById("chain");
    if (!fresh || !current) return;
    current.replaceWith(fresh);
    frames += 1;
    document.body.dataset.hqFrames = String(frames);
  });
  source.addEventListener("error", () => {
    lost();
    // A closed stream (signed out, or the server gone) is not retried by the browser:
    // reloading goes through the sign-in page if the cookie is no longer good.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => location.reload(), 2000);
  });
})();
