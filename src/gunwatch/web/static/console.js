// gunwatch console: the alert banner (server push), the live wall, keyboard shortcuts for the four actions.
// No framework and no build step: the pages are rendered by the server; this script only swaps in fresh
// server-rendered fragments when the event stream says something changed, and reloads camera frames.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const liveFps = parseFloat(document.body.dataset.liveFps || "2");
  const banner = document.getElementById("banner");
  let audio = null;

  // --- server-rendered fragments --------------------------------------------------------------------
  async function refresh(element, url) {
    if (!element) return;
    try {
      const response = await fetch(url, {headers: {"Accept": "text/html"}, cache: "no-store"});
      if (response.status === 401) { window.location.reload(); return; }
      if (response.ok) swap(element, await response.text());
    } catch (error) { /* the stream reconnects and refreshes again */ }
    ages();
    alarm();
  }
  // New content at once (a new alert must never wait), keeping what someone is typing: each note, by its
  // form's URL, and the focus and caret of the one being typed in.
  function swap(element, html) {
    const key = (input) => `${input.form?.getAttribute("action")}|${input.name}`;
    const typed = new Map([...element.querySelectorAll("input[type=text]")].map((input) => [key(input), input.value]));
    const focused = element.contains(document.activeElement) ? document.activeElement : null;
    const caret = focused ? [key(focused), focused.selectionStart, focused.selectionEnd] : null;
    element.innerHTML = html;
    element.querySelectorAll("input[type=text]").forEach((input) => {
      if (typed.get(key(input))) input.value = typed.get(key(input));
      if (caret && key(input) === caret[0]) { input.focus(); input.setSelectionRange(caret[1], caret[2]); }
    });
  }
  const refreshBanner = () => refresh(banner, "/console/banner");
  // A fragment says which changes concern it (data-kinds, e.g. "health" for the wall); default: all of them.
  const refreshLive = (kind) => document.querySelectorAll("[data-fragment]").forEach((element) => {
    const kinds = element.dataset.kinds;
    if (!kind || !kinds || kinds.split(" ").includes(kind)) refresh(element, element.dataset.fragment).then(startLive);
  });

  // --- the event stream: every change refreshes what shows it ----------------------------------------
  function connect() {
    const stream = new EventSource("/api/stream");
    for (const kind of ["event", "disposition", "delivery", "health", "resync"]) {
      stream.addEventListener(kind, () => { refreshBanner(); refreshLive(kind === "resync" ? null : kind); });
    }
    stream.onopen = () => { document.body.classList.remove("offline"); refreshBanner(); };
    stream.onerror = () => document.body.classList.add("offline");  // EventSource reconnects by itself
  }

  // --- "how long ago", every second ----------------------------------------------------------------
  function ages() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-ts]").forEach((element) => {
      const seconds = Math.max(0, Math.round(now - parseFloat(element.dataset.ts)));
      element.textContent = seconds < 90 ? `${seconds} s ago` : seconds < 5400 ? `${Math.round(seconds / 60)} min ago`
        : `${Math.round(seconds / 3600)} h ago`;
    });
  }

  // --- sound while an alert nobody acted on is showing ------------------------------------------------
  function alarm() {
    const unacted = document.querySelector(".alert.unacted");
    document.body.classList.toggle("alarm", Boolean(unacted));
    if (!unacted) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") {  // browsers allow sound only after a click on the page
        document.getElementById("sound-off")?.removeAttribute("hidden");
        return;
      }
      document.getElementById("sound-off")?.setAttribute("hidden", "");
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880; gain.gain.value = 0.2;
      tone.connect(gain).connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.35);
    } catch (error) { /* no audio device: the banner still shows */ }
  }
  document.addEventListener("click", () => audio?.state === "suspended" && audio.resume().then(alarm));

  // --- actions: forms post in the background; the banner and the page refresh -------------------------
  async function act(form, submitter) {
    const data = new URLSearchParams(new FormData(form, submitter));
    if (data.get("action") === "resolve" && !data.get("note")) {
      const note = window.prompt("Resolve: a note for the log (what happened)?");
      if (note === null) return;
      data.set("note", note);
    }
    // getAttribute: `form.action` would be the buttons named "action", not the form's URL.
    const response = await fetch(form.getAttribute("action"), {method: "POST", body: data, cache: "no-store",
      headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}});
    const result = await response.json().catch(() => ({message: response.statusText}));
    const status = document.getElementById("status");
    if (status) { status.textContent = result.message || ""; status.className = response.ok ? "ok" : "bad"; }
    refreshBanner(); refreshLive();
  }
  document.addEventListener("submit", (submit) => {
    const form = submit.target;
    if (!form.classList.contains("act")) return;
    submit.preventDefault();
    act(form, submit.submitter);
  });

  // --- keyboard: c confirm, f false alarm, a acknowledge, r resolve ---------------------------------
  const KEYS = {c: "confirm", f: "false_alarm", a: "ack", r: "resolve"};
  document.addEventListener("keydown", (key) => {
    if (key.ctrlKey || key.metaKey || key.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(key.target.tagName)) return;
    const action = KEYS[key.key];
    // On an event's own page, its own event; elsewhere the newest alert in the banner.
    const form = (document.querySelector("form.act.main") || document.querySelector(".alert form.act"));
    const button = action && form?.querySelector(`button[value="${action}"]`);
    if (button) { key.preventDefault(); act(form, button); }
  });

  // --- the live wall: each frame reloads once the previous one arrived, at the console's rate ---------
  function live(image) {
    const base = image.dataset.live;
    // Stops once the image left the page (a fragment swapped it out).
    const next = () => setTimeout(() => { if (image.isConnected) image.src = `${base}?t=${Date.now()}`; }, 1000 / liveFps);
    image.addEventListener("load", () => { image.classList.remove("stale"); next(); });
    image.addEventListener("error", () => { image.classList.add("stale"); setTimeout(next, 2000); });
    image.src = `${base}?t=${Date.now()}`;
  }
  // Images of a fragment swapped in start too; one already running keeps its own loop.
  function startLive() {
    document.querySelectorAll("img[data-live]:not([data-started])").forEach((image) => {
      image.dataset.started = "1";
      live(image);
    });
  }
  startLive();

  setInterval(ages, 1000);
  setInterval(alarm, 1500);
  ages(); alarm(); connect();
})();
