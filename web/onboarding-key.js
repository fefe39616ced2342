// The onboarding's result page shows the tenant's first API key once: a button copies it
// (the clipboard where the browser allows it, else the key is selected for Ctrl+C / ⌘C).
(function () {
  "use strict";
  const key = document.getElementById("api-key");
  const button = document.getElementById("copy-key");
  const said = document.getElementById("copy-status");
  if (!key || !button || !said) return;

  function select() {
    const range = document.createRange();
    range.selectNodeContents(key);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  button.addEventListener("click", async () => {
    const text = key.textContent.trim();
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      said.textContent = "The API key is copied.";
    } catch {
      select();
      said.textContent = "The browser did not allow copying: the key is selected, copy it with Ctrl+C (⌘C).";
    }
  });
  button.hidden = false;
})();
