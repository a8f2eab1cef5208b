// ImageSolve dashboard: small enhancements over server-rendered pages. Every
// page works without them, except the live status of a running job.
"use strict";

function setupCopyButtons() {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (err) {
        // Without the clipboard API (plain http on another host) the text
        // stays selected for Ctrl+C.
        return;
      }
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
}

function setupDropzone() {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  const input = document.getElementById(zone.dataset.input);
  const preview = document.getElementById("preview");
  const show = () => {
    const file = input.files && input.files[0];
    if (!file) { preview.hidden = true; return; }
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  };
  const take = (files) => {
    const image = Array.from(files).find((f) => f.type.startsWith("image/"));
    if (!image) return false;
    const transfer = new DataTransfer();
    transfer.items.add(image);
    input.files = transfer.files;
    show();
    return true;
  };
  input.addEventListener("change", show);
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    take(event.dataTransfer.files);
  });
  document.addEventListener("paste", (event) => {
    if (event.clipboardData && take(event.clipboardData.files)) event.preventDefault();
  });
}

function renderMaths() {
  if (typeof renderMathInElement !== "function") return;
  document.querySelectorAll(".math").forEach((element) => {
    renderMathInElement(element, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
        { left: "$", right: "$", display: false },
      ],
      throwOnError: false,
    });
  });
}

// Follows a queued or running job through the API (session auth, ?wait= holds
// the request until the job ends or 10 s pass), then reloads the page, which
// the server renders with the answer, usage and cost.
async function followJob() {
  const badge = document.getElementById("job-status");
  if (!badge || badge.dataset.terminal === "true") return;
  const terminal = ["succeeded", "failed", "canceled"];
  for (let round = 0; round < 100; round += 1) {
    let job;
    try {
      const response = await fetch(`${badge.dataset.jobUrl}?wait=10`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      job = await response.json();
    } catch (err) {
      badge.textContent = "reconnecting…";
      await new Promise((resolve) => setTimeout(resolve, 2000));
      continue;
    }
    badge.textContent = job.status;
    badge.className = `status status-${job.status}`;
    if (terminal.includes(job.status)) {
      window.location.reload();
      return;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupCopyButtons();
  setupDropzone();
  renderMaths();
  followJob();
});
