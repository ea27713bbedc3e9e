// The page: tag the text box's text, highlight its entities, explain the one clicked.
"use strict";

// displaCy's colours for the CoNLL types; other types get one of the rest, by name.
const COLOURS = { PER: "#aa9cfc", ORG: "#7aecec", LOC: "#ff9561", MISC: "#feca74" };
const SPARE = ["#bfeeb7", "#c887fb", "#e4e7d2", "#9cc9cc", "#ffeb80", "#bfe1d9", "#f0d0ff", "#c8d7ff"];

const $ = (id) => document.getElementById(id);
let shown = { text: "", entities: [] };

function colour(label) {
  if (COLOURS[label]) return COLOURS[label];
  let hash = 0;
  for (const c of label) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return SPARE[hash % SPARE.length];
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function render(text, entities) {
  // Offsets count code points (as Python does), not UTF-16 units: slice an array of code points.
  const chars = Array.from(text);
  const result = $("result");
  result.replaceChildren();
  let position = 0;
  entities.forEach((entity, index) => {
    result.append(chars.slice(position, entity.start).join(""));
    const mark = document.createElement("mark");
    mark.className = "entity";
    mark.dataset.index = index;
    mark.dataset.label = entity.label;
    mark.style.background = colour(entity.label);
    mark.title = `${entity.label} · p = ${entity.score.toFixed(3)} · click to see why`;
    mark.tabIndex = 0;
    mark.append(chars.slice(entity.start, entity.end).join(""));
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = entity.label;
    mark.append(label);
    result.append(mark);
    position = entity.end;
  });
  result.append(chars.slice(position).join(""));
  const legend = $("legend");
  legend.replaceChildren(...[...new Set(entities.map((e) => e.label))].sort().map((label) => {
    const item = document.createElement("span");
    item.textContent = label;
    item.style.background = colour(label);
    return item;
  }));
}

async function tag() {
  const text = $("text").value;
  showError("");
  $("explanation").hidden = true;
  if (!text.trim()) { showError("Type some text first."); return; }
  const button = $("tag");
  button.disabled = true;
  $("status").textContent = "tagging…";
  const started = performance.now();
  try {
    const { entities } = await post("/tag", { text });
    shown = { text, entities };
    render(text, entities);
    const ms = Math.round(performance.now() - started);
    $("status").textContent = `${entities.length} ${entities.length === 1 ? "entity" : "entities"} in ${ms} ms`;
  } catch (error) {
    showError(error.message);
    $("status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

function number(value) {
  if (value === null || value === undefined) return "";
  if (value !== 0 && Math.abs(value) < 0.0005) return value.toExponential(1);
  return (value > 0 ? "+" : "") + value.toFixed(3);
}

function cell(content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content); else td.textContent = content;
  return td;
}

async function explain(index) {
  const entity = shown.entities[index];
  document.querySelectorAll("mark.entity.chosen").forEach((m) => m.classList.remove("chosen"));
  document.querySelector(`mark.entity[data-index="${index}"]`)?.classList.add("chosen");
  showError("");
  try {
    const { explanations } = await post("/explain", {
      text: shown.text, spans: [{ start: entity.start, end: entity.end, label: entity.label }],
    });
    const [explanation] = explanations;
    $("explanation-title").textContent =
      `Why “${explanation.entity.text}” is ${explanation.entity.label} (p = ${explanation.entity.score.toFixed(3)})`;
    const scale = Math.max(...explanation.words.map((w) => Math.abs(w.gradient_x_input))) || 1;
    const rows = explanation.words.map((word) => {
      const row = document.createElement("tr");
      if (word.in_entity) row.classList.add("in-entity");
      if (word.occlusion === null) row.classList.add("padding");
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("div");
      fill.className = `fill ${word.gradient_x_input >= 0 ? "plus" : "minus"}`;
      fill.style.width = `${(50 * Math.abs(word.gradient_x_input)) / scale}%`;
      bar.append(fill);
      row.append(cell(word.word), cell(bar), cell(number(word.gradient_x_input)), cell(number(word.occlusion)),
        cell(number(word.occlusion_first_order)), cell(number(word.gradient_norm).replace("+", "")));
      return row;
    });
    document.querySelector("#explanation-table tbody").replaceChildren(...rows);
    $("explanation").hidden = false;
  } catch (error) {
    showError(error.message);
  }
}

async function describeModel() {
  try {
    const model = await (await fetch("/model")).json();
    const f1 = model.training?.dev?.f1;
    $("model").textContent = `model: ${model.head} head, labels ${model.labels.join(", ")}, window ±${model.window}` +
      (f1 !== undefined ? `, dev F1 ${(100 * f1).toFixed(2)}` : "");
  } catch (error) {
    $("model").textContent = "";
  }
}

$("tag").addEventListener("click", tag);
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) tag();
});
$("result").addEventListener("click", (event) => {
  const mark = event.target.closest("mark.entity");
  if (mark) explain(Number(mark.dataset.index));
});
$("result").addEventListener("keydown", (event) => {
  const mark = event.target.closest("mark.entity");
  if (mark && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); explain(Number(mark.dataset.index)); }
});
describeModel();
tag();
