/*
 * Building DOM nodes without HTML strings: text is only ever set as text, so nothing a customer or an agent typed
 * is parsed as markup. Shared by the workbench and its tools.
 */

/**
 * `el("li", {class: "x", text: "y", "data-id": 3}, child, ...)`: falsy props and children are left out; `data-*`
 * and `aria-*` are attributes, any other prop a property of the node.
 * @param {string} tag
 * @param {Record<string, any> | null} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else /** @type {any} */ (node)[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}
