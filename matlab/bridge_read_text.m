function S = bridge_read_text(filename)
%BRIDGE_READ_TEXT  Read a bridge text file (.txt) into a struct of arrays.
%   S = BRIDGE_READ_TEXT(FILENAME) returns a struct with a field per array in the file, with the
%   class, size and complexity its header '% NAME CLASS [complex] SIZE' declares, and the fields
%   'op' and 'shape' (char) where the file has request lines. Doubles and singles come back bit
%   for bit (NaN, Inf and -Inf included); 64-bit integers beyond 2^53 are read through double.
%   Other lines starting with '%' are comments; blank lines between arrays are ignored.
%
%   Example:
%     R = bridge_read_text('out.txt'); C = R.C;
%
%   Errors:
%     bridge:text:cannotOpen   the file cannot be read
%     bridge:text:format       the file is not a bridge text file (no header, wrong row count)
classes = {'double', 'single', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', ...
  'int64', 'uint64', 'logical'};
filename = char(filename);
if exist(filename, 'file') ~= 2
  error('bridge:text:cannotOpen', 'Cannot open %s: no such file.', filename);
end
lines = regexp(fileread(filename), '\r?\n', 'split');
S = struct();
k = 1;
while k <= numel(lines)
  line = strtrim(lines{k});
  k = k + 1;
  if isempty(line)
    continue
  end
  if line(1) ~= '%'
    error('bridge:text:format', '%s: line %d: numbers before any ''%% NAME CLASS SIZE'' header.', ...
      filename, k - 1);
  end
  tok = strsplit(strtrim(line(2:end)));
  if numel(tok) == 2 && any(strcmp(tok{1}, {'op', 'shape'}))
    S.(tok{1}) = tok{2};
  elseif numel(tok) >= 4 && any(strcmp(tok{2}, classes))
    [S.(tok{1}), k] = read_array(filename, lines, k, tok);
  end
end
end

function [x, k] = read_array(filename, lines, k, tok)
cplx = strcmp(tok{3}, 'complex');
dims = str2double(tok(3 + cplx:end));
rows = dims(1) * (1 + cplx);
cols = prod(dims(2:end));
if rows * cols == 0
  x = to_class(zeros(dims), tok{2}, cplx);
  return
end
if k + rows - 1 > numel(lines)
  error('bridge:text:format', '%s: ''%s'' needs %d rows; the file ends first.', filename, tok{1}, rows);
end
block = lines(k:k + rows - 1);
k = k + rows;
values = sscanf(sprintf('%s ', block{:}), '%f');
if numel(values) ~= rows * cols
  error('bridge:text:format', '%s: ''%s'' needs %d rows of %d numbers; found %d numbers.', ...
    filename, tok{1}, rows, cols, numel(values));
end
m = reshape(values, cols, rows).';
if cplx
  m = complex(m(1:dims(1), :), m(dims(1) + 1:end, :));
end
x = to_class(reshape(m, dims), tok{2}, cplx);
end

function y = to_class(x, cls, cplx)
% logical() and the class constructors (cast() does not make logicals); complex() keeps a zero
% imaginary part that the conversion may have dropped.
if strcmp(cls, 'logical')
  y = logical(x);
else
  y = feval(cls, x);
end
if cplx && isreal(y)
  y = complex(y, zeros(size(y), cls));
end
end
