// Message text as Markdown (protocol "Formatting"): markdown-it's safe subset, then DOMPurify.
import DOMPurify from "../vendor/dompurify/purify.es.js";
import MarkdownIt from "../vendor/markdown-it/markdown-it.esm.min.js";

// Links only to the web and to mail: `javascript:`, `data:`, relative paths stay plain text.
const LINK_SCHEMES = /^(?:https?|mailto):/i;

// Raw HTML is text (html: false); a bare URL becomes a link; one newline is a line break.
const md = new MarkdownIt({ html: false, linkify: true, breaks: true });
// The chat's subset: no images (a message cannot make the reader's browser fetch anything),
// and no headings, tables, rules or indented code blocks (a chat line is not a document).
md.disable(["image", "heading", "lheading", "table", "hr", "code"]);
md.validateLink = (url) => LINK_SCHEMES.test(url.trim());

// What the subset renders, and nothing else: whatever slips past markdown-it is dropped here.
const PURIFY = {
  ALLOWED_TAGS: ["p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a"],
  ALLOWED_ATTR: ["href", "start"],
  ALLOWED_URI_REGEXP: LINK_SCHEMES,
  RETURN_DOM_FRAGMENT: true,
};
// Each block finds its own direction: an Arabic paragraph after an English one reads right.
const BLOCKS = "p, li, blockquote, pre";

/** Append `text` to `into` rendered as the safe Markdown subset; never inserts it unsanitized. */
export function renderMarkdown(text, into) {
  if (!DOMPurify.isSupported) {
    into.append(text); // no sanitizer, no HTML: the words as plain text
    return;
  }
  const fragment = DOMPurify.sanitize(md.render(text), PURIFY);
  for (const link of fragment.querySelectorAll("a")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
  }
  for (const block of fragment.querySelectorAll(BLOCKS)) block.dir = "auto";
  into.append(fragment);
}

/** `text` as the words a reader sees once rendered, on one line (for quotes and previews). */
export function plainText(text) {
  const holder = document.createElement("div");
  renderMarkdown(text, holder);
  return holder.textContent.replace(/\s+/g, " ").trim();
}
