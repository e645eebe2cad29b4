// The block palette: searchable, grouped by category; click or drag a block onto the canvas.
import { memo, useMemo, useState } from "react";
import type { Block } from "../api/endpoints";
import { categoriesOf, prettyName } from "./model";

export const BLOCK_MIME = "application/x-autoplat-block";

function PaletteView({ blocks, onAdd }: { blocks: Block[]; onAdd: (block: Block) => void }) {
  const [q, setQ] = useState("");
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const groups = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const map = new Map<string, Block[]>();
    for (const b of blocks) {
      if (b.disabled) continue;
      if (needle && !`${b.name} ${prettyName(b)} ${b.description}`.toLowerCase().includes(needle)) continue;
      // While searching, one flat list (a block of two categories once).
      for (const c of needle ? ["RESULTS"] : categoriesOf(b)) map.set(c, [...(map.get(c) ?? []), b]);
    }
    return [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [blocks, q]);
  const searching = q.trim() !== "";
  return (
    <aside className="palette" aria-label="Blocks">
      <label className="field">
        <span className="sr-only">Search blocks</span>
        <input type="search" placeholder="Search blocks…" value={q} onChange={(e) => setQ(e.target.value)} aria-label="Search blocks" />
      </label>
      {groups.length === 0 && <p className="muted">No block matches.</p>}
      <div className="palette-groups">
        {groups.map(([cat, list]) => {
          const expanded = searching || (open[cat] ?? cat === "BASIC");
          return (
            <section key={cat} className="palette-group">
              <h3>
                <button type="button" aria-expanded={expanded} onClick={() => setOpen({ ...open, [cat]: !expanded })}>
                  {expanded ? "▾" : "▸"} {cat.charAt(0) + cat.slice(1).toLowerCase()} <span className="muted">({list.length})</span>
                </button>
              </h3>
              {expanded && (
                <ul>
                  {list.map((b) => (
                    <li key={b.id}>
                      <button
                        type="button"
                        className="palette-item"
                        draggable
                        data-block={b.name}
                        title={b.description}
                        onDragStart={(e) => {
                          e.dataTransfer.setData(BLOCK_MIME, b.id);
                          e.dataTransfer.effectAllowed = "copy";
                        }}
                        onClick={() => onAdd(b)}
                      >
                        <span>{prettyName(b)}</span>
                        <small className="muted">{b.description}</small>
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          );
        })}
      </div>
    </aside>
  );
}

export const Palette = memo(PaletteView);
