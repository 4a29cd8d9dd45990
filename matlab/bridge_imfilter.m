function B = bridge_imfilter(varargin)
%BRIDGE_IMFILTER  MATLAB's imfilter (Image Processing Toolbox), computed by the Python worker.
%   B = BRIDGE_IMFILTER(A, H) filters the array A (any number of dimensions, numeric or
%   logical) with the filter H (any number of dimensions): correlation, anchored at
%   floor((size(H)+1)/2), zero padding, the size of A, in A's class (integer and logical
%   results rounded half away from zero and saturated).
%   B = BRIDGE_IMFILTER(A, H, OPTION1, OPTION2, ...) takes, in any order and case:
%     X                                 pad with the number X (converted to A's class)
%     'symmetric', 'replicate', 'circular'   the boundary rule
%     'same' (default), 'full'          the size of the result ('full' pads size(H)-1)
%     'corr' (default), 'conv'          correlation or convolution
%   B = BRIDGE_IMFILTER(..., 'Python', PYTHON) runs the interpreter PYTHON.
%
%   Unlike Octave's imfilter, this is MATLAB's: N-D images and filters, 'full' padded by
%   size(H)-1 (Octave pads floor(size(H)/2)), logical results rounded.
%
%   Errors (identifiers), as MATLAB's imfilter where MATLAB has one:
%     MATLAB:imfilter:unrecognizedStringChoice   an option that is not one of the above
%     MATLAB:imfilter:ambiguousStringChoice      a prefix of two options ('c')
%     MATLAB:imfilter:invalidType                A, H or an option of the wrong class
%     bridge:imfilter:int64                      an int64 or uint64 A
%     MATLAB:minrhs, MATLAB:maxrhs               too few or too many arguments
%
%   Example:
%     B = bridge_imfilter(uint8(magic(5)), [-1 0 1], 'replicate', 'conv')
%
%   See also IMFILTER, FSPECIAL, BRIDGE_FSPECIAL, BRIDGE_IMGAUSSFILT.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 2, 5);
settings = struct();
for k = 3:numel(args)
  option = args{k};
  if bridge_istext(option)
    option = char(option);
    kind = option_kind(lower(option));
  else
    kind = 'padding';
  end
  settings.(kind) = option;  % the last of each kind wins, as in MATLAB
end
B = bridge_call('bridge_imfilter', 'imfilter', {'A', 'h'}, args(1:2), settings, python);
end

function kind = option_kind(word)
% Which setting a text option sets; a text that names none (or two) goes as the padding, where
% the worker raises MATLAB's error for it.
kind = 'padding';
if isempty(word)
  return  % (Octave's strncmp refuses N = 0: the worker's error for it, not strncmp's)
end
kinds = {'padding', 'padding', 'padding', 'shape', 'shape', 'mode', 'mode'};
words = {'symmetric', 'replicate', 'circular', 'same', 'full', 'corr', 'conv'};
hits = find(strncmp(word, words, numel(word)));
if ~isempty(hits) && numel(unique(kinds(hits))) == 1
  kind = kinds{hits(1)};
end
end
