function tf = bridge_istext(x)
%BRIDGE_ISTEXT  True for a char row vector (or '') and a scalar string object.
tf = (ischar(x) && (isempty(x) || size(x, 1) == 1)) || (isa(x, 'string') && numel(x) == 1);
end
