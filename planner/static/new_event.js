// The new-event form: changing the kind fills in that kind's defaults where the organiser typed nothing of their own,
// and an answer deadline left as proposed follows the date (the server applies the same rule without JavaScript).
(function () {
  "use strict";
  const form = document.getElementById("event-form");
  if (!form || !form.dataset.kinds) return;
  const kinds = JSON.parse(form.dataset.kinds);
  const field = (name) => form.elements.namedItem(name);
  const pad = (number) => String(number).padStart(2, "0");
  let kind = field("kind").value;

  function defaultDeadline() {
    const day = field("day").value;
    if (!day || !kinds[kind]) return "";
    const when = new Date(day + "T00:00");
    when.setDate(when.getDate() - kinds[kind].deadline_days);
    const tomorrow = new Date();
    tomorrow.setHours(0, 0, 0, 0);
    tomorrow.setDate(tomorrow.getDate() + 1);
    const chosen = when < tomorrow ? tomorrow : when;
    const text = `${chosen.getFullYear()}-${pad(chosen.getMonth() + 1)}-${pad(chosen.getDate())}T17:00`;
    return text < `${day}T${field("start").value || "00:00"}` ? text : "";
  }

  function followDeadline() {
    const deadline = field("rsvp_deadline");
    const shown = field("shown_deadline");
    if (deadline.value && deadline.value !== shown.value) return; // the organiser chose their own
    deadline.value = shown.value = defaultDeadline();
  }

  field("kind").addEventListener("change", () => {
    const before = kinds[kind];
    const after = kinds[field("kind").value];
    for (const name of ["title", "start", "end", "capacity"]) {
      const input = field(name);
      if (!input.value || input.value === String(before[name])) input.value = after[name];
    }
    kind = field("kind").value;
    followDeadline();
  });
  field("day").addEventListener("change", followDeadline);
  field("start").addEventListener("change", followDeadline);
})();
